// For the faces: stray rejections of app code (src/executor/stray-rejections.ts).
export { isAppRejection, reportStrayRejections, formatStrayRejection, type StrayRejection } from '../executor/stray-rejections.js';
