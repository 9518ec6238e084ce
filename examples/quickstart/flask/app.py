"""A Flask app whose /api routes need a gatehouse login.

    pip install "../../../clients/python[flask]"   # from the clone: not on PyPI yet
    GATEHOUSE_ISSUER=http://127.0.0.1:8080 flask --app app run --port 8000
"""

import os

from flask import Flask, g

from gatehouse_middleware.flask import Gatehouse

app = Flask(__name__)
gh = Gatehouse(app, issuer=os.environ["GATEHOUSE_ISSUER"])  # gatehouse's GATEHOUSE_PUBLIC_URL


@app.get("/")
def index():
    return {"message": "Hello, anyone"}


@app.get("/api/me")
@gh.required()
def me():
    user = g.gatehouse
    return {"id": user.account_id, "email": user.email, "role": user.role}


# Asks gatehouse on each request, so that a logout is refused at once.
@app.get("/api/orders")
@gh.required(live=True)
def orders():
    return {"orders": [], "account": g.gatehouse.account_id}


# Needs a login with a second factor.
@app.post("/api/payouts")
@gh.required(aal=2)
def payout():
    return {"queued": True, "account": g.gatehouse.account_id}
