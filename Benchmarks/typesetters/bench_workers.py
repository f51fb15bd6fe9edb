"""Throughput: K long-lived worker processes fed over stdin/stdout pipes; payloads pre-generated. usage: K N_per_worker [template]"""
import os, sys
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.environ.get("TYPESET_OUT", "/tmp/typeset-out")
os.makedirs(OUT, exist_ok=True)
import subprocess, sys, struct, json, time, threading, os
from invoice_data import make_invoice
K, M = int(sys.argv[1]), int(sys.argv[2]); tpl = sys.argv[3] if len(sys.argv) > 3 else HERE + "/invoice.typ"
payloads = [[json.dumps(make_invoice(10**6 * (k + 1) + i), ensure_ascii=False).encode() for i in range(M + 20)] for k in range(K)]
procs = [subprocess.Popen([sys.executable, HERE + "/worker_typst.py", tpl], stdin=subprocess.PIPE, stdout=subprocess.PIPE) for _ in range(K)]
def rt(p, pl):
    p.stdin.write(struct.pack(">I", len(pl)) + pl); p.stdin.flush()
    st, n = struct.unpack(">BI", p.stdout.read(5)); body = p.stdout.read(n); assert st == 0, body; return body
for k, p in enumerate(procs):
    for pl in payloads[k][:20]: rt(p, pl)          # warm-up
def cpu(p):
    f = open(f"/proc/{p.pid}/stat").read().rsplit(")", 1)[1].split(); return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
c0 = sum(cpu(p) for p in procs); errors = []
def run(k):
    try:
        for pl in payloads[k][20:]: rt(procs[k], pl)
    except Exception as e: errors.append(e)
th = [threading.Thread(target=run, args=(k,)) for k in range(K)]
t0 = time.perf_counter(); [t.start() for t in th]; [t.join() for t in th]; wall = time.perf_counter() - t0
cpu_used = sum(cpu(p) for p in procs) - c0
for p in procs: p.stdin.close(); p.wait()
print(json.dumps({"workers": K, "docs": K * M, "wall_s": round(wall, 2), "docs_per_s": round(K * M / wall, 1), "template": os.path.basename(tpl), "worker_cpu_ms_per_doc": round(cpu_used * 1e3 / (K * M), 2),
                  "errors": len(errors), "loadavg": os.getloadavg()}))
