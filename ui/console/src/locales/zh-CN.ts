// 简体中文（默认语言）。en.ts 必须有同样的键（类型检查保证）。
export default {
  app: { title: 'Livegate 运营控制台', short: 'Livegate' },
  common: {
    search: '查询', reset: '重置', create: '新建', edit: '编辑', save: '保存', cancel: '取消', confirm: '确定',
    delete: '删除', enable: '启用', disable: '停用', enabled: '已启用', disabled: '已停用', actions: '操作',
    detail: '详情', back: '返回', refresh: '刷新', yes: '是', no: '否', none: '无', loading: '加载中…',
    saved: '已保存', done: '操作成功', confirmTitle: '请确认', total: '共 {n} 条', copy: '复制', copied: '已复制',
    status: '状态', name: '名称', code: '编码', version: '版本', createdAt: '创建时间', updatedAt: '更新时间',
    tenant: '机构', all: '全部', from: '开始', to: '结束', remark: '备注', type: '类型', value: '值',
  },
  login: {
    title: '登录', username: '用户名', password: '密码', submit: '登录', required: '请输入用户名和密码',
  },
  layout: {
    tenant: '当前机构', allTenants: '本机构', lang: '语言', changePassword: '修改密码', logout: '退出登录',
    oldPassword: '原密码', newPassword: '新密码', confirmPassword: '确认新密码', passwordMismatch: '两次输入的新密码不一致',
    passwordRule: '至少 10 个字符，且不能与用户名相同', passwordChanged: '密码已修改',
  },
  menu: {
    records: '识别记录', stats: '调用统计', scenes: '场景配置', fallback: '降级管理', engines: '引擎管理', system: '系统管理',
    users: '用户管理', roles: '角色管理', tenants: '机构管理', apps: '应用管理', properties: '系统参数', dict: '字典管理',
    jobs: '定时任务', audit: '审计日志', recordDetail: '记录详情', sceneEdit: '编辑场景', sceneCreate: '新建场景',
  },
  errors: { forbidden: '没有访问该页面的权限', notFound: '页面不存在', home: '返回首页' },
  records: {
    timeRange: '时间范围', scene: '场景', app: '应用', verdict: '结果', status: '状态', reason: '原因', bizId: '业务流水号',
    capture: '采集方式', createdAt: '创建时间', finishedAt: '完成时间', duration: '耗时', reasons: '原因',
    exportCsv: '导出 CSV', exportXlsx: '导出 Excel', session: '会话', evidence: '证据帧', timeline: '动作时间线',
    scores: '各项得分', client: '客户端信息', callbacks: '回调投递', result: '签名结果', noEvidence: '没有保存证据帧',
    signal: '指标', score: '得分', attempts: '次数', lastStatus: '最后状态码', lastError: '最后错误',
    step: '步骤', at: '时间', sceneVersion: '场景版本',
    steps: { created: '创建会话', started: '开始检测', action: '动作', finished: '完成', expires: '链接过期', callback: '回调' },
  },
  verdict: { pass: '通过', fail: '未通过', inconclusive: '无法判定' },
  stats: {
    range: '日期范围', groupBy: '分组', bucket: '粒度', hour: '按小时', day: '按天', by: { scene: '场景', app: '应用', tenant: '机构', engine: '引擎' },
    total: '调用总数', pass: '通过', fail: '未通过', passRate: '通过率', p50: 'P50 耗时', p95: 'P95 耗时',
    calls: '调用量', trend: '调用趋势', reasons: '失败原因', attacks: '攻击类型', noData: '暂无数据',
  },
  scenes: {
    code: '场景编码', name: '场景名称', version: '当前版本', rules: '规则', versions: '历史版本', viewVersion: '查看',
    modes: '活体方式', mode: { action: '动作活体', colour: '炫彩活体', silent: '静默活体' },
    actionPool: '动作池', actionCount: '动作数量', randomOrder: '每次随机抽取并打乱顺序',
    linkTimeout: '链接有效期（秒）', stepTimeout: '单步超时（秒）', sessionTimeout: '会话超时（秒）', retries: '重试次数',
    thresholds: '阈值覆盖（JSON）', engine: '引擎', callbackUrl: '回调地址', callbackSecret: '回调密钥',
    secretKept: '已设置（不修改请保持 ***）', returnUrls: '允许的返回地址（每行一个）', retentionDays: '证据保留天数',
    sampledFrames: '保留步骤帧数', recording: '录制视频降级', recordingMaxMb: '视频上限（MB）', recordingMaxS: '视频时长上限（秒）',
    capture: '采集参数', width: '宽', height: '高', jpegQuality: 'JPEG 质量', minFps: '最低帧率', maxFps: '最高帧率',
    advanced: '其他规则（JSON）', invalidJson: 'JSON 格式错误', stale: '场景已被他人修改，请刷新后重试',
    disableConfirm: '停用场景 {code}？停用后不能再创建会话。', codeRule: '1-64 位小写字母、数字、- 或 _',
    action: { blink: '眨眼', mouth_open: '张嘴', turn_left: '向左转头', turn_right: '向右转头', nod: '点头', raise_head: '抬头' },
  },
  fallback: {
    scene: '场景', order: '检测方式顺序', triggers: '降级触发条件', method: {
      action: '实时动作活体', silent: '实时静默活体', recording: '录制视频',
    },
    trigger: {
      missing_capability: '缺少能力（摄像头、WebSocket 等）', failures: '连续连接失败次数达到', poor_network: '网络很差（2G）',
    },
    failures: '次', up: '上移', down: '下移', note: '降级规则保存在场景规则的 fallback 字段中，保存即生成场景新版本。',
  },
  engines: {
    name: '引擎', kind: '类型', builtin: '内置', plugin: '插件', health: '健康状态', p50: 'P50', p95: 'P95',
    queue: '队列深度', models: '模型', sha256: 'SHA-256',
  },
  users: {
    username: '用户名', displayName: '姓名', roles: '角色', password: '初始密码', unlock: '解锁', locked: '已锁定',
  },
  roles: { code: '角色编码', name: '角色名称', permissions: '权限', builtin: '内置' },
  tenants: { code: '机构编码', name: '机构名称', parent: '上级机构' },
  apps: {
    appId: 'App ID', name: '应用名称', secret: '应用密钥', secretOnce: '密钥只显示这一次，请立即妥善保存。关闭后无法再次查看。',
    secretTitle: '应用已创建', disableConfirm: '停用应用 {name}？停用后其签名请求将被拒绝。',
  },
  properties: { key: '参数键', value: '参数值', type: '类型', description: '说明' },
  dict: { types: '字典类型', data: '字典数据', dictType: '字典类型', label: '标签', labelEn: '英文标签', value: '键值', sort: '排序' },
  jobs: {
    code: '任务编码', name: '任务名称', cron: 'Cron 表达式', lastRun: '上次执行', nextRun: '下次执行', runNow: '立即执行',
    runs: '执行记录', startedAt: '开始时间', finishedAt: '结束时间', result: '结果', log: '日志', runStarted: '任务已开始执行',
  },
  audit: { who: '操作人', action: '操作', target: '对象', at: '时间', ip: '来源 IP' },
};
