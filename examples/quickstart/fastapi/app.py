"""A FastAPI app whose /api routes need a gatehouse login.

    pip install "../../../clients/python[fastapi]" uvicorn   # from the clone: not on PyPI yet
    GATEHOUSE_ISSUER=http://127.0.0.1:8080 uvicorn app:app --port 8000
"""

import os

from fastapi import Depends, FastAPI

from gatehouse_middleware import Auth
from gatehouse_middleware.fastapi import GatehouseAuth

app = FastAPI()
auth = GatehouseAuth(app, issuer=os.environ["GATEHOUSE_ISSUER"])  # gatehouse's GATEHOUSE_PUBLIC_URL


@app.get("/")
def index():
    return {"message": "Hello, anyone"}


@app.get("/api/me")
def me(user: Auth = Depends(auth)):
    return {"id": user.account_id, "email": user.email, "role": user.role}


# Asks gatehouse on each request, so that a logout is refused at once.
@app.get("/api/orders")
def orders(user: Auth = Depends(auth.require(live=True))):
    return {"orders": [], "account": user.account_id}


# Needs a login with a second factor.
@app.post("/api/payouts")
def payout(user: Auth = Depends(auth.require(aal=2))):
    return {"queued": True, "account": user.account_id}
