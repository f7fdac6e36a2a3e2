import { startNotificationApp } from "./app.ts";
import { loadNotificationConfig } from "./config.ts";

await startNotificationApp(loadNotificationConfig());
