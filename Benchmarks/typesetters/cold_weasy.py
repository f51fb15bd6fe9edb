import os, sys
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.environ.get("TYPESET_OUT", "/tmp/typeset-out")
os.makedirs(OUT, exist_ok=True)
import sys, weasyprint
from invoice_data import make_invoice
from invoice_html import render
n = int(sys.argv[1])
weasyprint.HTML(string=render(make_invoice(n), "file://" + HERE + "/logo.svg"), base_url=HERE + "/").write_pdf(f"{OUT}/cold/weasy_{n}.pdf")
