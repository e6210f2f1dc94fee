"""PDF visit summaries: `selectors` (who may fetch, is it current), `services` (request, render, store),
`render` (the PDF itself) and `exports` (bulk ZIPs)."""
