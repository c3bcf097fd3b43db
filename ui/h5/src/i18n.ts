// The page's own texts (before the server speaks, and for what goes wrong). zh-CN is the default.

import type { Lang } from './protocol/messages';

const zh = {
  title: '人脸核验',
  loading: '正在加载…',
  checking: '正在检查您的设备…',
  consent_title: '需要使用摄像头',
  consent_body:
    '我们需要使用摄像头确认是您本人在操作。画面只用于本次核验，加密后传送，不会用于其他用途。',
  consent_tips: '请在光线充足的地方，正对手机，把脸放在框内，按提示完成动作。',
  start: '开始',
  starting_camera: '正在打开摄像头…',
  connecting: '正在连接…',
  reconnecting: '网络不稳定，正在重新连接…',
  step_of: (i: number, n: number) => `第 ${i} 步，共 ${n} 步`,
  step_done: '本步完成',
  all_done: '动作完成，请稍候…',
  hold_still: '请把脸放在框内',
  passed: '通过',
  failed: '未通过',
  passed_body: '核验已通过。',
  failed_body: '核验未通过。',
  back: '返回',
  back_auto: (s: number) => `${s} 秒后自动返回`,
  retry: '重试',
  error_title: '无法继续',
  // links
  link_missing_sid: '链接不完整：缺少会话编号。请回到原页面重新打开。',
  link_bad_sid: '链接有误：会话编号不正确。请回到原页面重新打开。',
  link_missing_token: '链接不完整：缺少凭证。请回到原页面重新打开。',
  link_bad_token: '链接有误：凭证不正确。请回到原页面重新打开。',
  // challenge
  http_401: '这个链接无效或已被使用。请回到原页面重新发起核验。',
  http_404: '找不到这次核验。请回到原页面重新发起核验。',
  http_410: '这个链接已过期。请回到原页面重新发起核验。',
  http_other: '服务暂时不可用，请稍后重试。',
  network: '网络连接失败，请检查网络后重试。',
  no_suite: '当前页面版本过旧，请刷新后重试。',
  // capabilities
  insecure_context: '当前页面不是安全连接（https），无法使用摄像头。请使用原始链接打开。',
  open_in_browser:
    '当前环境无法使用摄像头。请点击右上角“…”，选择“在 Safari 中打开”（或在手机浏览器中打开本链接）。',
  no_camera_api: '当前浏览器不支持摄像头。请用手机自带浏览器（Safari 或 Chrome）打开本链接。',
  no_websocket: '当前浏览器版本过旧，无法完成核验。请更新浏览器或换用手机自带浏览器。',
  no_crypto: '当前浏览器不支持安全加密，无法完成核验。请更新浏览器或换用手机自带浏览器。',
  // camera
  camera_denied: '您没有允许使用摄像头，无法完成核验。',
  camera_missing: '没有找到可用的摄像头。请确认设备有前置摄像头后重试。',
  camera_busy: '摄像头正被其他应用使用。请关闭其他使用摄像头的应用（如视频通话）后重试。',
  camera_other: '摄像头无法打开，请重试。',
  deny_help_wechat: '开启方法：在手机“设置”中找到“微信”，打开“相机”权限；然后回到本页点“重试”。',
  deny_help_ios: '开启方法：打开“设置” → “Safari 浏览器” → “相机”，选择“询问”或“允许”；然后回到本页点“重试”。',
  deny_help_android:
    '开启方法：点地址栏左侧的图标 → “权限”或“网站设置” → 允许“摄像头”；或在手机“设置” → “应用” → 浏览器 → “权限”中打开相机。然后点“重试”。',
  deny_help_desktop: '开启方法：点地址栏左侧的图标，允许本网站使用摄像头；然后点“重试”。',
  tap_to_start: '点击开始',
  // close codes
  close_done: '核验已结束。',
  close_reconnecting: '网络不稳定，正在重新连接…',
  close_protocol: '传输出错，本次核验已中断。请回到原页面重新发起核验。',
  close_key_mismatch: '这次核验已在其他页面进行或已中断。请回到原页面重新发起核验。',
  close_limits: '核验时间过长，已结束。请回到原页面重新发起核验。',
  close_session_ended: '这次核验已经结束。',
  close_expired: '这个链接已过期。请回到原页面重新发起核验。',
  close_superseded: '这次核验已在另一个页面继续进行，本页面已停止。',
  close_unknown: '核验已中断。请回到原页面重新发起核验。',
  reconnect_failed: '网络连接已断开，无法继续。请检查网络后回到原页面重新发起核验。',
};

type Texts = typeof zh;

const en: Texts = {
  title: 'Face verification',
  loading: 'Loading…',
  checking: 'Checking your device…',
  consent_title: 'Camera needed',
  consent_body:
    'We need your camera to confirm that it is really you. The video is used only for this check, is encrypted on the way, and is used for nothing else.',
  consent_tips: 'Find good light, hold the phone in front of you, keep your face inside the oval and follow the prompts.',
  start: 'Start',
  starting_camera: 'Opening the camera…',
  connecting: 'Connecting…',
  reconnecting: 'The network is unstable; reconnecting…',
  step_of: (i: number, n: number) => `Step ${i} of ${n}`,
  step_done: 'Step done',
  all_done: 'All done, one moment…',
  hold_still: 'Keep your face inside the oval',
  passed: 'Passed',
  failed: 'Not passed',
  passed_body: 'The verification passed.',
  failed_body: 'The verification did not pass.',
  back: 'Back',
  back_auto: (s: number) => `Going back in ${s} s`,
  retry: 'Try again',
  error_title: 'Cannot continue',
  link_missing_sid: 'The link is incomplete (no session). Go back and open it again.',
  link_bad_sid: 'The link is wrong (bad session). Go back and open it again.',
  link_missing_token: 'The link is incomplete (no token). Go back and open it again.',
  link_bad_token: 'The link is wrong (bad token). Go back and open it again.',
  http_401: 'This link is not valid or was already used. Go back and start the verification again.',
  http_404: 'This verification was not found. Go back and start it again.',
  http_410: 'This link has expired. Go back and start the verification again.',
  http_other: 'The service is not available right now. Please try again later.',
  network: 'No connection. Check your network and try again.',
  no_suite: 'This page is out of date. Reload it and try again.',
  insecure_context: 'This page is not on a secure (https) connection, so the camera cannot be used. Open the original link.',
  open_in_browser:
    'The camera cannot be used here. Tap "…" at the top right and choose "Open in Safari" (or open this link in your phone\'s browser).',
  no_camera_api: "This browser has no camera support. Open this link in your phone's own browser (Safari or Chrome).",
  no_websocket: "This browser is too old for the verification. Update it or use your phone's own browser.",
  no_crypto: "This browser lacks secure encryption. Update it or use your phone's own browser.",
  camera_denied: 'The camera was not allowed, so the verification cannot go on.',
  camera_missing: 'No camera was found. Make sure the device has a front camera and try again.',
  camera_busy: 'The camera is in use by another app. Close other apps using it (such as video calls) and try again.',
  camera_other: 'The camera could not be opened. Please try again.',
  deny_help_wechat: 'To allow it: open the phone\'s Settings → WeChat → turn on Camera; then come back and tap "Try again".',
  deny_help_ios: 'To allow it: open Settings → Safari → Camera → "Ask" or "Allow"; then come back and tap "Try again".',
  deny_help_android:
    'To allow it: tap the icon left of the address bar → Permissions (Site settings) → allow Camera, or in the phone\'s Settings → Apps → your browser → Permissions. Then tap "Try again".',
  deny_help_desktop: 'To allow it: click the icon left of the address bar and allow the camera for this site; then click "Try again".',
  tap_to_start: 'Tap to start',
  close_done: 'The verification is over.',
  close_reconnecting: 'The network is unstable; reconnecting…',
  close_protocol: 'A transmission error stopped the verification. Go back and start it again.',
  close_key_mismatch: 'This verification is running in another page or was interrupted. Go back and start it again.',
  close_limits: 'The verification took too long and has ended. Go back and start it again.',
  close_session_ended: 'This verification has already ended.',
  close_expired: 'This link has expired. Go back and start the verification again.',
  close_superseded: 'This verification continued in another page; this one has stopped.',
  close_unknown: 'The verification was interrupted. Go back and start it again.',
  reconnect_failed: 'The connection was lost. Check your network, then go back and start the verification again.',
};

export type TextKey = { [K in keyof Texts]: Texts[K] extends string ? K : never }[keyof Texts];

export const TEXTS: Record<Lang, Texts> = { 'zh-CN': zh, en };

export function texts(lang: Lang): Texts {
  return TEXTS[lang];
}
