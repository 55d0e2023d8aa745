"""fusiondp.data"""
