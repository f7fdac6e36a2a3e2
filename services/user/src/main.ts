import { loadUserConfig } from "./config.ts";
import { startUserService } from "./server.ts";

await startUserService(loadUserConfig());
