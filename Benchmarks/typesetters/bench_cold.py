"""Cold: a fresh process per document, 10 runs; peak RSS = max over time of the summed RSS of the process tree (sampled 5 ms)."""
import os, sys
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.environ.get("TYPESET_OUT", "/tmp/typeset-out")
os.makedirs(OUT, exist_ok=True)
import subprocess, sys, time, os, json, statistics
from invoice_data import make_invoice
from invoice_html import render
os.makedirs(OUT + "/cold", exist_ok=True)
PY = sys.executable
def cmd(cand, n):
    if cand == "typst": return [PY, OUT + "/cold_typst.py", str(n)]
    if cand == "weasy": return [PY, OUT + "/cold_weasy.py", str(n)]
    if cand == "chromium":
        html = f"{OUT}/cold/chrome_{n}.html"
        open(html, "w").write(render(make_invoice(n), HERE + "/logo.svg", chrome=True))
        return ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                f"--user-data-dir={OUT}/chrome_prof", f"--print-to-pdf={OUT}/cold/chrome_{n}.pdf", "file://" + html]
def tree_rss(root):
    kids = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                st = open(f"/proc/{p}/stat").read(); ppid = int(st.rsplit(")", 1)[1].split()[1]); kids.setdefault(ppid, []).append(int(p))
            except Exception: pass
    tot, stack = 0, [root]
    while stack:
        p = stack.pop(); stack += kids.get(p, [])
        try:
            for l in open(f"/proc/{p}/status"):
                if l.startswith("VmRSS"): tot += int(l.split()[1])
        except Exception: pass
    return tot // 1024
cand = sys.argv[1]; R = int(sys.argv[2]) if len(sys.argv) > 2 else 10
times, peaks = [], []
for i in range(R):
    c = cmd(cand, 5000 + i)
    t = time.perf_counter(); p = subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); peak = 0
    while p.poll() is None:
        peak = max(peak, tree_rss(p.pid)); time.sleep(0.005)
    times.append(time.perf_counter() - t); peaks.append(peak)
    assert p.returncode == 0, (c, p.returncode)
print(json.dumps({"cand": cand, "runs": R, "median_ms": round(statistics.median(times) * 1e3), "min_ms": round(min(times) * 1e3),
                  "max_ms": round(max(times) * 1e3), "peak_tree_rss_MB": max(peaks), "loadavg": os.getloadavg()}))
