/** Architecture rules checked by `npm test` (STYLE.md habit 1, DESIGN §4). */
module.exports = {
  forbidden: [
    {
      name: 'core-is-pure',
      comment: 'core/ imports nothing outside core/ but zod (DESIGN §4: no AWS SDK, no I/O).',
      severity: 'error',
      from: { path: '^core/' },
      to: { pathNot: ['^core/', '^node_modules/zod/', '^zod$'] },
    },
    {
      name: 'core-no-node-builtins',
      comment: 'core/ reads no clock, file, network or process: those come in through ports.',
      severity: 'error',
      from: { path: '^core/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'agent-not-functions',
      comment: 'The agent and the Lambda functions never import each other.',
      severity: 'error',
      from: { path: '^agent/' },
      to: { path: '^functions/' },
    },
    {
      name: 'functions-not-agent',
      comment: 'The agent and the Lambda functions never import each other.',
      severity: 'error',
      from: { path: '^functions/' },
      to: { path: '^agent/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['\\.test\\.ts$'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
    },
  },
};
