"""Shared invoice data: same content for every candidate; amounts vary with n."""
import os, sys
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.environ.get("TYPESET_OUT", "/tmp/typeset-out")
os.makedirs(OUT, exist_ok=True)
import random
from decimal import Decimal, ROUND_HALF_UP

Q = Decimal("0.01")


def inr(x: Decimal) -> str:
    """Indian digit grouping: 12,34,567.89"""
    x = x.quantize(Q, ROUND_HALF_UP)
    neg = x < 0
    s = f"{abs(x):.2f}"
    whole, frac = s.split(".")
    if len(whole) > 3:
        head, tail = whole[:-3], whole[-3:]
        parts = []
        while len(head) > 2:
            parts.insert(0, head[-2:])
            head = head[:-2]
        if head:
            parts.insert(0, head)
        whole = ",".join(parts + [tail])
    return ("-" if neg else "") + "₹" + whole + "." + frac


ITEMS = [
    "Compute – vCPU hours (Mumbai région)",
    "Block storage – SSD, GB-month",
    "Object storage – standard tier",
    "Managed PostgreSQL – db.m2 instance",
    "Load balancer – hours",
    "Egress bandwidth – GB",
    "Support plan – Business (café hours ✓)",
    "Backup snapshots – GB-month",
]


def make_invoice(n: int) -> dict:
    rnd = random.Random(n)
    lines = []
    sub = disc_t = net_t = cgst_t = sgst_t = Decimal(0)
    for desc in ITEMS:
        qty = rnd.randint(1, 900)
        rate = Decimal(rnd.randint(100, 99999)) / 100
        gross = (qty * rate).quantize(Q, ROUND_HALF_UP)
        disc = (gross * Decimal(rnd.choice([0, 5, 10])) / 100).quantize(Q, ROUND_HALF_UP)
        net = gross - disc
        cgst = (net * Decimal("0.09")).quantize(Q, ROUND_HALF_UP)
        sgst = cgst
        sub += gross; disc_t += disc; net_t += net; cgst_t += cgst; sgst_t += sgst
        lines.append({
            "desc": desc, "period": "01–31 Mar 2025", "qty": str(qty),
            "gross": inr(gross), "disc": inr(disc), "net": inr(net),
            "cgst": inr(cgst), "sgst": inr(sgst),
        })
    total = net_t + cgst_t + sgst_t
    return {
        "number": f"INV-{n:06d}",
        "issue": "2025-04-01", "ref": "PO #4711 / *Q1* <b>x</b> $5 [a] \\ {b}", "due": "2025-04-15",
        "seller": {
            "name": "Acme Cloud Pvt Ltd",
            "addr": ["4th Floor, Prestige Tech Park", "Outer Ring Road, Marathahalli", "Bengaluru, Karnataka 560103, India"],
            "gstin": "29AABCA1234F1Z5",
        },
        "buyer": {
            "name": "Société Généreux & Fils (India) LLP",
            "addr": ["12, MG Road", "Bengaluru, Karnataka 560001"],
            "gstin": "29AAFFS9876K1Z2",
        },
        "lines": lines,
        "subtotal": inr(sub), "discount": inr(-disc_t), "net": inr(net_t),
        "cgst": inr(cgst_t), "sgst": inr(sgst_t),
        "total": inr(total), "due_amount": inr(total),
        "footer": "Payment terms: net 15 days by NEFT/RTGS to HDFC Bank, A/c 50200012345678, IFSC HDFC0001234. "
                  "Late payments accrue interest at 1.5% per month. This is a computer-generated invoice – no signature required.",
    }
