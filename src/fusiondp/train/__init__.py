"""fusiondp.train"""
