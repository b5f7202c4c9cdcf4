// Imported first by the bundle's entry, before any schema is built: zod's compiled fast path
// (`new Function` per object schema) costs every start of the agent — each SSM action among them
// — its code generation, and under V8's --jitless (how hosts run the agent) the generated code is
// interpreted like the rest, so it gains nothing back.
import { z } from 'zod';

z.config({ jitless: true });
