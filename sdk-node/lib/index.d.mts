// Types of the ES module entry: the same exports as the CommonJS entry, plus a default export.
import * as gatehouse from "./index.js";

export * from "./index.js";
export default gatehouse;
