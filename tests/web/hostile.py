"""Hostile corpus text and questions shared by the web tests: markup, scripts and
javascript: links that must never execute or load."""

IMG = '<img src=x onerror="window.__pwned=1">'
SCRIPT = "<script>window.__pwned=2</script>"
INJECTION_MD = f"""---
title: "Freedonia transport note <script>window.__pwned=4</script>"
short_title: "Freedonia note"
kind: document
---

# Freedonia transport note

The zebra crossing budget of Freedonia was 77 million ducats in 2020 {IMG} according to the transport ministry.

Freedonia also repainted 1,200 zebra crossings, a figure the ministry published at javascript:alert(1) {SCRIPT} in its annual report.
"""
