// Live updates for bcsync pages: elements with data-live="<event source url>" follow it.
"use strict";
