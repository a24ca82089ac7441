// Validates a HAR file against the HAR 1.2 JSON schema (har-validator),
// independently of wsdiag. Usage: node validate_har.js FILE
// Exit 0 and "valid" when valid; exit 1 with the schema errors otherwise.
const fs = require("fs");
const validate = require("har-validator");
const har = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
validate
  .har(har)
  .then(() => console.log("valid"))
  .catch((e) => {
    console.error(JSON.stringify(e.errors || e.message, null, 2));
    process.exit(1);
  });
