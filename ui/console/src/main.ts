import { createApp } from 'vue';
import { createPinia } from 'pinia';
import 'element-plus/theme-chalk/base.css';
import './styles.css';
import App from './App.vue';
import { i18n } from './locales';
import { router } from './router';
import { createPermDirective } from './directives/perm';
import { useAuthStore } from './stores/auth';

const app = createApp(App);
const pinia = createPinia();
app.use(pinia).use(i18n).use(router);
app.directive('perm', createPermDirective((p) => useAuthStore(pinia).can(p)));
app.mount('#app');
