import { writeFileSync } from 'node:fs';
import { configMarkdown } from '../src/config/docs.js';
import { scopesMarkdown } from '../src/rbac/scopes-doc.js';

// Regenerates the reference docs from their one source (the schema, the scope table).
writeFileSync(new URL('../docs/reference/config.md', import.meta.url), configMarkdown());
writeFileSync(new URL('../docs/reference/scopes.md', import.meta.url), scopesMarkdown());
process.stdout.write('wrote docs/reference/config.md and docs/reference/scopes.md\n');
