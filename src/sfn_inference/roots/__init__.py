"""One composition root per function: each builds its dependencies once per execution environment.

A handler module calls its root's ``build()`` at import (Lambda's INIT phase) and
keeps the result; tests call ``build()`` with fakes instead.
"""
