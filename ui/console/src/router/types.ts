import 'vue-router';

declare module 'vue-router' {
  interface RouteMeta {
    /** i18n key of the page's title and menu entry */
    title?: string;
    /** an Element Plus icon's name for the menu */
    icon?: string;
    /** any of these permissions opens the page (none: every signed-in user) */
    perms?: string[];
    /** not in the menu (detail pages) */
    hidden?: boolean;
    /** the menu entry to highlight (for detail pages) */
    activeMenu?: string;
    /** reachable without a session */
    public?: boolean;
  }
}

export {};
