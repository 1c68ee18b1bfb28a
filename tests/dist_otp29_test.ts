import { defineDistSuite } from "./_dist_suite.ts";

defineDistSuite("29");
