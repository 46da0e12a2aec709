// The AWS SDK warns once per process about Node 20's support window; tests do not need to read it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
