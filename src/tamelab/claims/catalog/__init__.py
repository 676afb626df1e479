"""Claim modules, one per paper (``authorYEARkey.py``); discovered automatically."""
