"""fusiondp.evaluate"""
