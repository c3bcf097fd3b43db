// Element Plus's message and confirm box, imported per component: importing them from the
// package's root would pull the whole library into the bundle (its installer is not tree-shaken).
export { ElMessage } from 'element-plus/es/components/message/index.mjs';
export { ElMessageBox } from 'element-plus/es/components/message-box/index.mjs';
import 'element-plus/es/components/message/style/css';
import 'element-plus/es/components/message-box/style/css';
