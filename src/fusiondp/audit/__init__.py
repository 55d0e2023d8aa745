"""fusiondp.audit"""
