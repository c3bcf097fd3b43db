// English. Same keys as zh-CN.ts (the type below checks it).
import type zh from './zh-CN';

type Messages<T> = { [K in keyof T]: T[K] extends string ? string : Messages<T[K]> };

const en: Messages<typeof zh> = {
  app: { title: 'Livegate operations console', short: 'Livegate' },
  common: {
    search: 'Search', reset: 'Reset', create: 'New', edit: 'Edit', save: 'Save', cancel: 'Cancel', confirm: 'OK',
    delete: 'Delete', enable: 'Enable', disable: 'Disable', enabled: 'Enabled', disabled: 'Disabled', actions: 'Actions',
    detail: 'Detail', back: 'Back', refresh: 'Refresh', yes: 'Yes', no: 'No', none: 'None', loading: 'Loading…',
    saved: 'Saved', done: 'Done', confirmTitle: 'Please confirm', total: '{n} in all', copy: 'Copy', copied: 'Copied',
    status: 'Status', name: 'Name', code: 'Code', version: 'Version', createdAt: 'Created', updatedAt: 'Updated',
    tenant: 'Tenant', all: 'All', from: 'From', to: 'To', remark: 'Remark', type: 'Type', value: 'Value',
  },
  login: {
    title: 'Sign in', username: 'User name', password: 'Password', submit: 'Sign in', required: 'Enter your user name and password',
  },
  layout: {
    tenant: 'Tenant', allTenants: 'My tenant', lang: 'Language', changePassword: 'Change password', logout: 'Sign out',
    oldPassword: 'Current password', newPassword: 'New password', confirmPassword: 'Repeat new password',
    passwordMismatch: 'The new passwords differ', passwordRule: 'At least 10 characters, not the user name',
    passwordChanged: 'Password changed',
  },
  menu: {
    records: 'Records', stats: 'Statistics', scenes: 'Scenes', fallback: 'Fallback', engines: 'Engines', system: 'System',
    users: 'Users', roles: 'Roles', tenants: 'Tenants', apps: 'API apps', properties: 'Properties', dict: 'Dictionary',
    jobs: 'Scheduled jobs', audit: 'Audit log', recordDetail: 'Record', sceneEdit: 'Edit scene', sceneCreate: 'New scene',
  },
  errors: { forbidden: 'You may not open this page', notFound: 'No such page', home: 'Home' },
  records: {
    timeRange: 'Time range', scene: 'Scene', app: 'App', verdict: 'Verdict', status: 'Status', reason: 'Reason', bizId: 'Business id',
    capture: 'Capture', createdAt: 'Created', finishedAt: 'Finished', duration: 'Duration', reasons: 'Reasons',
    exportCsv: 'Export CSV', exportXlsx: 'Export Excel', session: 'Session', evidence: 'Evidence frames', timeline: 'Action timeline',
    scores: 'Scores', client: 'Client', callbacks: 'Callback deliveries', result: 'Signed result', noEvidence: 'No evidence kept',
    signal: 'Signal', score: 'Score', attempts: 'Attempts', lastStatus: 'Last status', lastError: 'Last error',
    step: 'Step', at: 'Time', sceneVersion: 'Scene version',
    steps: { created: 'Created', started: 'Started', action: 'Action', finished: 'Finished', expires: 'Link expires', callback: 'Callback' },
  },
  verdict: { pass: 'Pass', fail: 'Fail', inconclusive: 'Inconclusive' },
  stats: {
    range: 'Dates', groupBy: 'Group by', bucket: 'Bucket', hour: 'Hourly', day: 'Daily', by: { scene: 'Scene', app: 'App', tenant: 'Tenant', engine: 'Engine' },
    total: 'Calls', pass: 'Passed', fail: 'Failed', passRate: 'Pass rate', p50: 'P50 latency', p95: 'P95 latency',
    calls: 'Calls', trend: 'Calls over time', reasons: 'Failure reasons', attacks: 'Attack types', noData: 'No data',
  },
  scenes: {
    code: 'Scene code', name: 'Scene name', version: 'Version', rules: 'Rules', versions: 'Versions', viewVersion: 'View',
    modes: 'Liveness modes', mode: { action: 'Actions', colour: 'Colour', silent: 'Silent' },
    actionPool: 'Action pool', actionCount: 'Actions per session', randomOrder: 'Drawn at random, in random order, every session',
    linkTimeout: 'Link valid for (s)', stepTimeout: 'Step timeout (s)', sessionTimeout: 'Session timeout (s)', retries: 'Retries',
    thresholds: 'Threshold overrides (JSON)', engine: 'Engine', callbackUrl: 'Callback URL', callbackSecret: 'Callback secret',
    secretKept: 'Set (keep *** to leave it unchanged)', returnUrls: 'Allowed return URLs (one a line)', retentionDays: 'Evidence kept (days)',
    sampledFrames: 'Step frames kept', recording: 'Recorded-video fallback', recordingMaxMb: 'Largest clip (MB)', recordingMaxS: 'Longest clip (s)',
    capture: 'Capture', width: 'Width', height: 'Height', jpegQuality: 'JPEG quality', minFps: 'Min fps', maxFps: 'Max fps',
    advanced: 'Other rules (JSON)', invalidJson: 'Not valid JSON', stale: 'Someone else changed this scene: reload and retry',
    disableConfirm: 'Disable scene {code}? No new session can use it.', codeRule: '1-64 of a-z, 0-9, - or _',
    action: { blink: 'Blink', mouth_open: 'Open mouth', turn_left: 'Turn left', turn_right: 'Turn right', nod: 'Nod', raise_head: 'Raise head' },
  },
  fallback: {
    scene: 'Scene', order: 'Order of methods', triggers: 'Step down when', method: {
      action: 'Real-time actions', silent: 'Real-time silent', recording: 'Recorded video',
    },
    trigger: {
      missing_capability: 'a capability is missing (camera, WebSocket...)', failures: 'failed connections in a row reach', poor_network: 'the network is very slow (2G)',
    },
    failures: 'times', up: 'Up', down: 'Down', note: "Fallback rules live in the scene rules' fallback field: saving makes a new scene version.",
  },
  engines: {
    name: 'Engine', kind: 'Kind', builtin: 'Built-in', plugin: 'Plug-in', health: 'Health', p50: 'P50', p95: 'P95',
    queue: 'Queue depth', models: 'Models', sha256: 'SHA-256',
  },
  users: { username: 'User name', displayName: 'Name', roles: 'Roles', password: 'Initial password', unlock: 'Unlock', locked: 'Locked' },
  roles: { code: 'Role code', name: 'Role name', permissions: 'Permissions', builtin: 'Built-in' },
  tenants: { code: 'Tenant code', name: 'Tenant name', parent: 'Parent' },
  apps: {
    appId: 'App id', name: 'App name', secret: 'App secret', secretOnce: 'The secret is shown this once: keep it safe now. It cannot be shown again.',
    secretTitle: 'App created', disableConfirm: 'Disable app {name}? Its signed requests will be refused.',
  },
  properties: { key: 'Key', value: 'Value', type: 'Type', description: 'Description' },
  dict: { types: 'Dictionary types', data: 'Dictionary data', dictType: 'Type', label: 'Label', labelEn: 'English label', value: 'Value', sort: 'Order' },
  jobs: {
    code: 'Job code', name: 'Job', cron: 'Cron', lastRun: 'Last run', nextRun: 'Next run', runNow: 'Run now',
    runs: 'Runs', startedAt: 'Started', finishedAt: 'Finished', result: 'Result', log: 'Log', runStarted: 'The job has started',
  },
  audit: { who: 'Who', action: 'Action', target: 'Target', at: 'When', ip: 'From IP' },
};

export default en;
