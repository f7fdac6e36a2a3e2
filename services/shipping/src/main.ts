import { startShippingApp } from "./app.ts";
import { loadShippingConfig } from "./config.ts";

await startShippingApp(loadShippingConfig());
