"""fusiondp.text"""
