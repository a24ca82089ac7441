"""Renders Markdown to HTML with markdown-it-py (CommonMark plus GitHub's
tables), independently of wsdiag. Usage: python render_markdown.py FILE"""
import sys

from markdown_it import MarkdownIt

md = MarkdownIt("commonmark", {"html": True}).enable("table")
with open(sys.argv[1], encoding="utf-8") as f:
    sys.stdout.write(md.render(f.read()))
