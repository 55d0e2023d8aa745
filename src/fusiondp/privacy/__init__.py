"""fusiondp.privacy"""
