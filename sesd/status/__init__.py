"""The status page: what sesd sees now, for a person.

A request reads the status document from the live state the metrics read, as a
pure read at the time it is made; the document is rendered as HTML with inline
SVG charts, served as JSON, and the page's own script keeps it fresh from the
JSON. The routes join sesd's HTTP server. Nothing runs for the page between
requests.
"""
