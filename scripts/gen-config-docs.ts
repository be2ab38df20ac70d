import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { configMarkdown } from '../src/config/docs.js';
import { scopesMarkdown } from '../src/rbac/scopes-doc.js';
import { withLiveConfigSection } from '../src/hub/reload-table.js';

// Regenerates the reference docs from their one source (the schema, the scope table).
writeFileSync(new URL('../docs/reference/config.md', import.meta.url), configMarkdown());
writeFileSync(new URL('../docs/reference/scopes.md', import.meta.url), scopesMarkdown());
// the table of live and restart-only options, inside docs/operations.md ("Live configuration")
const operations = new URL('../docs/operations.md', import.meta.url);
if (existsSync(operations)) writeFileSync(operations, withLiveConfigSection(readFileSync(operations, 'utf8')));
process.stdout.write('wrote docs/reference/config.md, docs/reference/scopes.md and the live configuration table of docs/operations.md\n');
