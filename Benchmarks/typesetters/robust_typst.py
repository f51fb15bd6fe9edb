"""Robustness probes against the long-lived worker protocol (one worker, many bad inputs, then a good one)."""
import os, sys
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.environ.get("TYPESET_OUT", "/tmp/typeset-out")
os.makedirs(OUT, exist_ok=True)
import subprocess, struct, json, time
from invoice_data import make_invoice
p = subprocess.Popen([sys.executable, HERE + "/worker_typst.py"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
def rt(pl):
    t = time.perf_counter(); p.stdin.write(struct.pack(">I", len(pl)) + pl); p.stdin.flush()
    st, n = struct.unpack(">BI", p.stdout.read(5)); body = p.stdout.read(n); return st, body, time.perf_counter() - t
good = make_invoice(7)
inj = dict(good, ref='"] #panic("x") #read("/etc/passwd") $x^2$ `raw` <lbl> @ref', number="INV-#{1+1}")
missing = {k: v for k, v in good.items() if k != "lines"}
big = dict(good, lines=good["lines"] * 250)   # 2000 lines -> many pages
longword = dict(good, ref="X" * 20000)
cases = {"malformed JSON": b'{"number": "INV-1", ', "not utf-8 JSON": b'\xff\xfe{}', "missing key": json.dumps(missing).encode(),
         "wrong type (lines=str)": json.dumps(dict(good, lines="abc")).encode(), "markup injection": json.dumps(inj).encode(),
         "2000 lines": json.dumps(big).encode(), "20k-char unbreakable word": json.dumps(longword).encode(),
         "good after errors": json.dumps(good).encode()}
for name, pl in cases.items():
    try:
        st, body, dt = rt(pl)
        info = f"{len(body)} B PDF" if st == 0 else body.decode(errors="replace").splitlines()[0][:110]
        print(f"{name:28s} status={st} {dt*1e3:7.0f} ms  {info}")
        if name == "markup injection": open(OUT + "/injection_typst.pdf", "wb").write(body)
    except Exception as e:
        print(f"{name:28s} WORKER DIED: {e!r} rc={p.poll()}"); break
print("worker alive:", p.poll() is None)
p.stdin.close(); p.wait()
