"""Django form classes that parse what people type; 'form' alone means a user-defined Form.

`builder` holds the builder's inputs (form settings, fields, trees, node configs), `records` the
public form built from a Form's fields.
"""
