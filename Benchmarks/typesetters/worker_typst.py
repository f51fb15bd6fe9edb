"""Long-lived Typst worker: stdin frames = 4-byte BE length + UTF-8 JSON invoice; stdout frames = 1 status byte
(0 ok / 1 error) + 4-byte BE length + PDF bytes (or UTF-8 error text). Template compiled against a warm Compiler."""
import os, sys
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.environ.get("TYPESET_OUT", "/tmp/typeset-out")
os.makedirs(OUT, exist_ok=True)
import sys, struct, typst
TEMPLATE = open(sys.argv[1] if len(sys.argv) > 1 else HERE + "/invoice.typ", "rb").read()
comp = typst.Compiler(root=HERE)   # keeps fonts + memoization cache warm
inp, out = sys.stdin.buffer, sys.stdout.buffer
while True:
    hdr = inp.read(4)
    if len(hdr) < 4: break
    raw = inp.read(struct.unpack(">I", hdr)[0])
    try:
        payload = raw.decode("utf-8")
        # data only via sys.inputs (never spliced into markup); template bytes passed on every call
        # (typst-py 0.15.2 loses Compiler(bytes) input after the 1st compile)
        res, st = comp.compile(TEMPLATE, format="pdf", sys_inputs={"data": payload}), 0
    except BaseException as e:  # typst.TypstError for bad data/template; BaseException also catches pyo3 PanicException
        res, st = str(e).encode(), 1
    out.write(struct.pack(">BI", st, len(res))); out.write(res); out.flush()
