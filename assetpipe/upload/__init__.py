"""The CDN hook (`assetpipe upload`, `build --upload`, `build --headers`): takes a finished build (its
manifest, checked against the files really there) and `[upload]`, returns an UploadPlan (every file
with its Content-Type, Content-Encoding and Cache-Control, in three phases: hashed assets and their
sidecars, other files, HTML) and hands it to a target, phase by phase.

`plan`: the upload plan (a contract, pure); `targets`: the `command` and `s3` targets, and the rule both
keep (a phase starts only when every file of the ones before it is stored); `headersfile`: the plan's
Cache-Control as a `_headers` file for Netlify and Cloudflare Pages.
"""
