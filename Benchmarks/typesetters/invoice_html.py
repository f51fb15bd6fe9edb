"""HTML rendering of the same invoice; every data value goes through html.escape."""
import os, sys
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.environ.get("TYPESET_OUT", "/tmp/typeset-out")
os.makedirs(OUT, exist_ok=True)
from html import escape as e

CSS = """
@page { size: A4; margin: 14mm 14mm 22mm 14mm;
  @bottom-left { content: element(footer); } }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { font-family: "DejaVu Sans"; font-size: 8.5pt; margin: 0; color: #000; }
.accent { color: #0B6E4F; }
.head { display: flex; justify-content: space-between; }
.head td { padding: 1pt 0 1pt 6pt; }
.seller .name { font-size: 11pt; font-weight: bold; color: #0B6E4F; margin-top: 2mm; }
h1 { font-size: 20pt; color: #0B6E4F; margin: 0 0 1mm 0; text-align: right; }
.meta { margin-left: auto; } .meta th { text-align: right; font-weight: normal; padding: 1pt 6pt 1pt 0; }
.meta td { padding: 1pt 0; }
.buyer { border-left: 2pt solid #0B6E4F; padding: 3pt 6pt; margin: 5mm 0; }
table.lines { width: 100%; border-collapse: collapse; margin-top: 5mm; }
table.lines th { background: #0B6E4F; color: #fff; text-align: right; padding: 4pt 3pt; }
table.lines td { text-align: right; padding: 4pt 3pt; border-bottom: 0.4pt solid #c8c8c8; vertical-align: top; }
table.lines td:nth-child(-n+2), table.lines th:nth-child(-n+2) { text-align: left; }
table.lines td:nth-child(n+2) { white-space: nowrap; }
table.tot { margin: 4mm 0 0 auto; border-collapse: collapse; }
table.tot td { text-align: right; padding: 3pt 3pt; } table.tot td + td { width: 32mm; }
table.tot tr.total td { border-top: 0.8pt solid #0B6E4F; font-weight: bold; }
table.tot tr.due td { background: #0B6E4F; color: #fff; font-weight: bold; }
.footer { position: running(footer); font-size: 7.5pt; color: #5a5a5a; border-top: 0.5pt solid #0B6E4F; padding-top: 2pt; }
"""
# Chromium does not support running() elements: fixed footer there.
CSS_CHROME_FOOTER = ".footer { position: fixed; bottom: 0; left: 0; right: 0; }"


def render(d: dict, logo_uri: str, chrome: bool = False) -> str:
    s, b = d["seller"], d["buyer"]
    rows = "".join(
        "<tr>" + "".join(f"<td>{e(l[k])}</td>" for k in ("desc", "period", "qty", "gross", "disc", "net", "cgst", "sgst")) + "</tr>"
        for l in d["lines"])
    css = CSS + (CSS_CHROME_FOOTER if chrome else "")
    footer = f'<div class="footer">{e(d["footer"])}</div>'
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Invoice {e(d['number'])}</title>
<style>{css}</style></head><body>
{'' if chrome else footer}
<div class="head"><div class="seller"><img src="{e(logo_uri)}" style="height:12mm"><div class="name">{e(s['name'])}</div>
{''.join(e(x) + '<br>' for x in s['addr'])}GSTIN: {e(s['gstin'])}</div>
<div><h1>TAX INVOICE</h1><table class="meta">
<tr><th>Invoice no.</th><td><b>{e(d['number'])}</b></td></tr><tr><th>Issue date</th><td>{e(d['issue'])}</td></tr>
<tr><th>Due date</th><td>{e(d['due'])}</td></tr><tr><th>Reference</th><td>{e(d['ref'])}</td></tr></table></div></div>
<div class="buyer"><b class="accent">Bill to</b><br><b>{e(b['name'])}</b><br>{''.join(e(x) + '<br>' for x in b['addr'])}GSTIN: {e(b['gstin'])}</div>
<table class="lines"><thead><tr><th>Description</th><th>Period</th><th>Qty</th><th>Gross</th><th>Discount</th><th>Net</th><th>CGST 9%</th><th>SGST 9%</th></tr></thead>
<tbody>{rows}</tbody></table>
<table class="tot"><tr><td>Subtotal</td><td>{e(d['subtotal'])}</td></tr><tr><td>Discount</td><td>{e(d['discount'])}</td></tr>
<tr><td>Taxable value</td><td>{e(d['net'])}</td></tr><tr><td>CGST 9%</td><td>{e(d['cgst'])}</td></tr><tr><td>SGST 9%</td><td>{e(d['sgst'])}</td></tr>
<tr class="total"><td>Total</td><td>{e(d['total'])}</td></tr><tr class="due"><td>Amount due (INR)</td><td>{e(d['due_amount'])}</td></tr></table>
{footer if chrome else ''}
</body></html>"""
