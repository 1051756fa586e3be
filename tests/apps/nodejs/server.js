// The nodejs buildpack's example app: answers every request with a short
// text body, plus the GREETING config variable when it is set.
const http = require('http');

const port = Number(process.env.PORT || 5000);

const server = http.createServer((req, res) => {
  let body = 'hello from nodejs\n';
  if (process.env.GREETING) {
    body += `${process.env.GREETING}\n`;
  }
  res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(body);
});

server.listen(port, () => {
  console.log(`listening on port ${port}`);
});
