"""The builder: forms, fields, trees, the tree editor and records, one module a screen.

htmx partials; every page works without JavaScript too. Staff only, and each view needs the model
permission of what it shows or changes (eventtree/permissions.py).
"""
