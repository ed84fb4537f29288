// node-oidc-provider with its default in-memory adapter, client_credentials enabled: the
// comparison point for civitas' client_credentials grants/s (BENCHMARKS.md).
// Usage: node oidc-provider.mjs PORT
import Provider from 'oidc-provider';

const port = Number(process.argv[2] || 3999);
const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: 'agency',
    client_secret: 'agency-secret-0123456789abcdef012345',
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    scope: 'registry.read',
  }],
  scopes: ['registry.read'],
  features: { clientCredentials: { enabled: true }, devInteractions: { enabled: false } },
});
provider.listen(port, '127.0.0.1', () => console.log(`node-oidc-provider on ${port}`));
