"""fusiondp.report"""
