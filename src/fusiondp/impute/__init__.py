"""fusiondp.impute"""
