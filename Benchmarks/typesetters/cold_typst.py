import os, sys
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.environ.get("TYPESET_OUT", "/tmp/typeset-out")
os.makedirs(OUT, exist_ok=True)
import sys, json, typst
from invoice_data import make_invoice
n = int(sys.argv[1])
pdf = typst.compile(open(HERE + "/invoice.typ", "rb").read(), root=HERE, format="pdf",
                    sys_inputs={"data": json.dumps(make_invoice(n), ensure_ascii=False)})
open(f"{OUT}/cold/typst_{n}.pdf", "wb").write(pdf)
