"""fusiondp.cli"""
