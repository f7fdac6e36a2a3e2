import { startPaymentApp } from "./app.ts";
import { loadPaymentConfig } from "./config.ts";

await startPaymentApp(loadPaymentConfig());
