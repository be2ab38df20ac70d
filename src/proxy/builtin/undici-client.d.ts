// undici has no `exports` map, so its modules can be imported one by one; this
// one is its HTTP/1.1 client (one connection), typed as the package's own `Client`.
declare module 'undici/lib/dispatcher/client.js' {
  import type { Client } from 'undici';
  const ClientClass: typeof Client;
  export default ClientClass;
}
