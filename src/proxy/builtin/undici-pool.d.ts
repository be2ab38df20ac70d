// undici has no `exports` map, so its modules can be imported one by one; this
// one is its connection pool, typed as the package's own `Pool`.
declare module 'undici/lib/dispatcher/pool.js' {
  import type { Pool } from 'undici';
  const PoolClass: typeof Pool;
  export default PoolClass;
}
