"""Design documents as files: one folder per `_design/<name>` (see `bookkeeper/designdocs.py`), installed with the
package so that a `pip install` finds them."""
