// An Express API whose /api routes need a gatehouse login.
//
//   npm install express ../../../clients/node-middleware/gatehouse-middleware-0.1.0.tgz
//     (the tarball `npm ci && npm pack` writes in clients/node-middleware: not on npm yet)
//   GATEHOUSE_ISSUER=http://127.0.0.1:8080 node server.mjs
import express from 'express';
import { gatehouse } from 'gatehouse-middleware/express';

const issuer = process.env.GATEHOUSE_ISSUER; // gatehouse's GATEHOUSE_PUBLIC_URL
const app = express();

app.get('/', (req, res) => res.json({ message: 'Hello, anyone' }));

app.use('/api', gatehouse({ issuer })); // every route below /api needs an access token

app.get('/api/me', (req, res) => {
  const { accountId, email, role } = req.auth;
  res.json({ id: accountId, email, role });
});

// Asks gatehouse on each request, so that a logout is refused at once.
app.get('/api/orders', gatehouse({ issuer, live: 'user' }), (req, res) => {
  res.json({ orders: [], account: req.auth.accountId });
});

// Needs a login with a second factor.
app.post('/api/payouts', gatehouse({ issuer, requireAal: 2 }), (req, res) => {
  res.json({ queued: true, account: req.auth.accountId });
});

const port = Number(process.env.PORT ?? 3000);
app.listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${port}`));
